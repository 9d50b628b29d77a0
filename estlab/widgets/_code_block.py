"""``CodeBlock``: a block of Python with a Copy button, drawn in the browser (an anywidget; no CDN).

The browser copies through ``navigator.clipboard`` and falls back to selecting the text and
``document.execCommand("copy")`` where the clipboard API is refused (an insecure origin). Without anywidget
the block is a plain HTML ``<pre>`` (select and copy by hand).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import traitlets

from estlab.widgets._html import esc

try:  # anywidget is in the ``lab`` extra
    import anywidget

    HAVE_ANYWIDGET = True
    _Base: Any = anywidget.AnyWidget
except ImportError:  # pragma: no cover - exercised only without anywidget
    HAVE_ANYWIDGET = False
    _Base = widgets.HTML

ESM = r"""
function render({ model, el }) {
  el.classList.add("estlab-code-block");
  const bar = document.createElement("div"); bar.className = "estlab-code-bar";
  const button = document.createElement("button"); button.className = "estlab-copy jupyter-button";
  button.textContent = "Copy"; button.title = "Copy the code to the clipboard";
  const note = document.createElement("span"); note.className = "estlab-code-note";
  const pre = document.createElement("pre"); pre.className = "estlab-code-text";
  bar.append(button, note); el.append(bar, pre);
  const sync = () => { pre.textContent = model.get("code"); note.textContent = model.get("note"); };
  sync();
  const done = (text) => { button.textContent = text; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
  const fallback = () => {
    const range = document.createRange(); range.selectNodeContents(pre);
    const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    let ok = false; try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    done(ok ? "Copied" : "Selected: press Ctrl+C");
  };
  button.onclick = () => {
    const text = model.get("code");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(() => done("Copied"), fallback);
    } else { fallback(); }
  };
  model.on("change:code", sync); model.on("change:note", sync);
  return () => { model.off("change:code", sync); model.off("change:note", sync); };
}
export default { render };
"""

CSS = r"""
.estlab-code-block { max-width: 100%; box-sizing: border-box; }
.estlab-code-bar { display: flex; gap: 10px; align-items: center; margin: 2px 0; }
.estlab-code-note { color: var(--jp-ui-font-color2, #666); font-size: 12px; }
.estlab-code-text { font-family: var(--jp-code-font-family, monospace); font-size: 12px; margin: 0;
  padding: 6px 8px; max-height: 360px; overflow: auto; white-space: pre;
  background: var(--jp-layout-color2, #f5f5f5); color: var(--jp-content-font-color1, #222);
  border: 1px solid var(--jp-border-color2, #ddd); border-radius: 3px; }
"""


class CodeBlock(_Base):
    """Python source with a Copy button.

    Examples
    --------
    >>> block = CodeBlock(code="x = 1\\n", note="copy it into a cell")
    >>> block.code
    'x = 1\\n'
    >>> block.close()
    """

    if HAVE_ANYWIDGET:
        _esm = ESM
        _css = CSS
    code = traitlets.Unicode("").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    def __init__(self, code: str = "", note: str = "", **kwargs: Any) -> None:
        super().__init__(code=code, note=note, **kwargs)
        if not HAVE_ANYWIDGET:
            self.observe(lambda _change: self._static(), names=["code", "note"])
            self._static()

    def _static(self) -> None:
        self.value = f'<pre style="font-size:12px">{esc(self.code)}</pre>'
