"""Self-service kiosk (自助取号机) and the citizen's mobile ticket page, served by the hall controller.

`install(app)` adds the pages (`/kiosk/{kiosk_id}`, `/t/{token}`), their JSON API, the kiosks' ID card
readers (simulated with `--devices simulated`) and the read-aloud voice of 长者模式.
"""
