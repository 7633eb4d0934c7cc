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

// The translate service of bpmn-js / diagram-js and dmn-js ({ translate: ["value", fn] }): the libraries pass
// their own English labels, with {name} placeholders; the ones studio/library_labels.js lists have the page's
// translation under "library\u0004label" (context, as in GNU gettext).
export function libraryTranslate(library) {
  return function translate(template, replacements) {
    const messages = (typeof window !== "undefined" && window.CREDITFLOW_I18N) || {};
    const key = library + "\u0004" + template;
    const text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : template;
    return text.replace(/{([^}]+)}/g, (whole, name) =>
      replacements && replacements[name] !== undefined ? String(replacements[name]) : whole,
    );
  };
}
