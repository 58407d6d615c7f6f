"""What the browser tests check on every page: axe-core's accessibility rules, touch-target sizes, and that a
page fits its screen (no sideways scroll, no clipped text)."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"

# The screens the hall's pages meet: laptops and counter PCs, the 1080p wall panels, 4K panels, vertical
# kiosks and hall screens.
SIZES = {"1280x720": (1280, 720), "1366x768": (1366, 768), "1920x1080": (1920, 1080), "3840x2160": (3840, 2160),
         "1080x1920": (1080, 1920)}


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's violations of `impacts` on the page as it is now (WCAG 2.1 A/AA and best practice)."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} missing: run scripts/setup (npm ci in tests/browser)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
      const r = await axe.run(document, {resultTypes: ['violations']});
      return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                     nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in impacts]


# Every visible element whose box leaves the page sideways, or whose own text is cut (overflow hidden with
# more content than room) — what a citizen would see as clipped.
CLIPPED = """(fixed) => {
  // boxes are in screen px, also on a page zoomed as a whole (the kiosk)
  const W = window.innerWidth, H = window.innerHeight;
  const out = [];
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                    (e.classList.length ? '.' + [...e.classList].join('.') : '');
  for (const e of document.body.querySelectorAll('*')) {
    const s = getComputedStyle(e);
    if (s.display === 'none' || s.visibility === 'hidden' || e.closest('[hidden],[aria-hidden=true]')) continue;
    if (e.closest('[data-marquee]')) continue;  // a scrolling notice runs past the edges by design
    const r = e.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;  // nothing to see (a screen-reader-only label)
    // inside a panel that clips or scrolls sideways, the panel is what must fit
    let boxed = false;
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
      if (getComputedStyle(p).overflowX !== 'visible') { boxed = true; break; }
    if (!boxed && s.position !== 'fixed' && (r.right > W + 1 || r.left < -1)) out.push(['outside', name(e), r.left, r.right, W]);
    if (fixed && (r.bottom > H + 1) && !e.closest('[data-scrolls]')) out.push(['below', name(e), r.bottom, H]);
    const hasText = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (hasText && s.overflowX !== 'visible' && s.overflowX !== 'auto' && s.overflowX !== 'scroll' &&
        e.scrollWidth > e.clientWidth + 1)
      out.push(['cut', name(e), e.textContent.trim().slice(0, 30), e.scrollWidth, e.clientWidth]);
    if (hasText && s.overflowY === 'hidden' && e.scrollHeight > e.clientHeight + 2)
      out.push(['cut-v', name(e), e.textContent.trim().slice(0, 30), e.scrollHeight, e.clientHeight]);
  }
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) out.push(['sideways scroll', root.scrollWidth, root.clientWidth]);
  return out;
}"""


def clipped(page, fixed: bool = False) -> list:
    """What does not fit: `fixed` screens (boards, kiosk, pad) must also keep everything above the bottom
    edge, except inside a panel marked `data-scrolls` that scrolls by design."""
    return page.evaluate(CLIPPED, fixed)


SMALL_TARGETS = """(min) => {
  const out = [];
  for (const e of document.querySelectorAll('button, a[href], input, select, textarea, [role=button]')) {
    const s = getComputedStyle(e);
    if (s.display === 'none' || s.visibility === 'hidden' || e.closest('[hidden]')) continue;
    if (e.tagName === 'INPUT' && ['hidden'].includes(e.type)) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    // a checkbox or radio counts with its label: the label is what a finger presses
    const target = (e.type === 'checkbox' || e.type === 'radio') && e.closest('label') ? e.closest('label') : e;
    const t = target.getBoundingClientRect();
    if (t.width < min - 0.5 || t.height < min - 0.5)
      out.push([e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''), (e.textContent || e.value || '').trim().slice(0, 20),
                Math.round(t.width), Math.round(t.height)]);
  }
  return out;
}"""


def small_targets(page, minimum: int = 44) -> list:
    """Visible controls smaller than `minimum` CSS px either way (WCAG 2.5.5 target size: 44 px)."""
    return page.evaluate(SMALL_TARGETS, minimum)


# Every form field the browser finds invalid as the page stands (an empty sign-in form, say) and whose message
# is not Chinese: the browser's own messages follow its UI language, so a page with a form loads
# /static/common/validation.js.
ENGLISH_VALIDATION = """() => {
  const out = [];
  for (const f of document.querySelectorAll('input, textarea, select')) {
    if (!f.willValidate || f.checkValidity()) continue;
    if (!/[\\u4e00-\\u9fff]/.test(f.validationMessage))
      out.push([f.tagName.toLowerCase() + (f.name ? `[name=${f.name}]` : f.id ? '#' + f.id : ''), f.validationMessage]);
  }
  return out;
}"""


def english_validation(page) -> list:
    """Invalid fields whose validation message is not in Chinese."""
    return page.evaluate(ENGLISH_VALIDATION)
