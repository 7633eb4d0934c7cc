// The studio's sentences in the page's language: the same mechanism as static/i18n.js (see webui/js_i18n.py),
// as a module for the esbuild bundle. Mark every label with _("..."), literally, so `make messages` extracts it;
// placeholders are %(name)s:  _("Timer %(value)s", { value })
export function _(msgid, params) {
  const messages = (typeof window !== "undefined" && window.CREDITFLOW_I18N) || {};
  const text = Object.prototype.hasOwnProperty.call(messages, msgid) ? messages[msgid] : msgid;
  if (!params) return text;
  return text.replace(/%\((\w+)\)[sd]/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}
