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

  // The key the page embeds a translation under (webui/js_i18n.py message_key): FNV-1a, 32 bits, over the
  // msgid's UTF-8 bytes, in hex. The page so carries no English sentence.
  function key(msgid) {
    var hash = 0x811c9dc5;
    new TextEncoder().encode(msgid).forEach(function (byte) {
      hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    });
    return ("0000000" + hash.toString(16)).slice(-8);
  }
  window.creditflowMessageKey = key;

  window.creditflowGettext = function (msgid, params) {
    var k = key(msgid);
    var text = Object.prototype.hasOwnProperty.call(messages, k) ? messages[k] : msgid;
    if (!params) return text;
    return text.replace(/%\((\w+)\)[sd]/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole;
    });
  };

  // The page's language for Intl (numbers in charts, counts): "en" or "zh-Hans" from <html lang>.
  window.creditflowLang = document.documentElement.lang || "en";
})();
