// The scripts' sentences in the page's language (webui/js_i18n.py): the page embeds the translations of the
// msgids our scripts mark with _("...") as a JSON data block; this reads it before any other script runs.
//   var _ = window.creditflowGettext;  _("Saved %(name)s", {name: file})
// Placeholders are Python's %(name)s, so the catalogue checks (tests/webui/test_translations.py) hold.
// The studio bundle has its own copy of gettext (studio/i18n.js) reading the same window.CREDITFLOW_I18N.
(function () {
  "use strict";

  var block = document.getElementById("creditflow-i18n");
  var messages = {};
  try {
    messages = block ? JSON.parse(block.textContent) : {};
  } catch (error) {
    messages = {};  // a broken block must not break the page: English is shown
  }
  window.CREDITFLOW_I18N = messages;

  window.creditflowGettext = function (msgid, params) {
    var text = Object.prototype.hasOwnProperty.call(messages, msgid) ? messages[msgid] : msgid;
    if (!params) return text;
    return text.replace(/%\((\w+)\)[sd]/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
    });
  };

  // The page's language for Intl (numbers in charts, counts): "en" or "zh-Hans" from <html lang>.
  window.creditflowLang = document.documentElement.lang || "en";
})();
