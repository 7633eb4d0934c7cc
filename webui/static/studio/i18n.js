// The studio's sentences in the page's language: the same mechanism as static/i18n.js (see webui/js_i18n.py),
// as a module for the esbuild bundle. Mark every label with _("..."), literally, so `make messages` extracts it;
// placeholders are %(name)s:  _("Timer %(value)s", { value })
// The key the page embeds a translation under (webui/js_i18n.py message_key, as static/i18n.js computes it).
function key(msgid) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(msgid)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

function lookup(msgid) {
  const messages = (typeof window !== "undefined" && window.CREDITFLOW_I18N) || {};
  const k = key(msgid);
  return Object.prototype.hasOwnProperty.call(messages, k) ? messages[k] : msgid;
}

export function _(msgid, params) {
  const text = lookup(msgid);
  if (!params) return text;
  return text.replace(/%\((\w+)\)[sd]/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

// The translate service of bpmn-js / diagram-js and dmn-js ({ translate: ["value", fn] }): the libraries pass
// their own English labels, with {name} placeholders; the ones studio/library_labels.js lists have the page's
// translation under "library\u0004label" (context, as in GNU gettext).
export function libraryTranslate(library) {
  return function translate(template, replacements) {
    const found = lookup(library + "\u0004" + template);
    const text = found === library + "\u0004" + template ? template : found;
    return text.replace(/{([^}]+)}/g, (whole, name) =>
      replacements && replacements[name] !== undefined ? String(replacements[name]) : whole,
    );
  };
}
