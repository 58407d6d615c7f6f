"""Feature config sections: importing a feature's config module registers its `[section]` parser."""
from . import appointments  # noqa: E402,F401  [appointments]
from kiosk_ui import settings as kiosk_settings  # noqa: E402,F401  [kiosks]
from . import demand  # noqa: E402,F401  [simulation]
from . import devices_config  # noqa: E402,F401  [devices]
from . import alerts  # noqa: E402,F401  [manager]
from . import platform_push, ratings  # noqa: E402,F401  [ratings] [platform]
from . import day, retention  # noqa: E402,F401  [day] [retention]
