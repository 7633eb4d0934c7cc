// ISO 8601 durations as creditflow's dueIn and timers take them (P2D, PT4H, P1W, P1Y2M3DT4H30M), and a
// preview a process owner reads ("2 days", "1 day 4 hours").

var PATTERN = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
import { _ } from "./i18n.js";

// Each unit, one and several, as msgids (babel extracts literals only).
var UNITS = [
  function (n) { return n === 1 ? _("1 year") : _("%(n)s years", { n: n }); },
  function (n) { return n === 1 ? _("1 month") : _("%(n)s months", { n: n }); },
  function (n) { return n === 1 ? _("1 week") : _("%(n)s weeks", { n: n }); },
  function (n) { return n === 1 ? _("1 day") : _("%(n)s days", { n: n }); },
  function (n) { return n === 1 ? _("1 hour") : _("%(n)s hours", { n: n }); },
  function (n) { return n === 1 ? _("1 minute") : _("%(n)s minutes", { n: n }); },
  function (n) { return n === 1 ? _("1 second") : _("%(n)s seconds", { n: n }); }
];

export function isDuration(text) {
  return PATTERN.test((text || "").trim());
}

export function durationPreview(text) {
  var match = PATTERN.exec((text || "").trim());
  if (!match) return "";
  var parts = [];
  for (var i = 0; i < UNITS.length; i++) {
    var n = match[i + 1];
    if (n === undefined || Number(n) === 0) continue;
    parts.push(UNITS[i](Number(n) === 1 ? 1 : n));
  }
  return parts.length ? parts.join(" ") : _("no time at all");
}

// A timer's expression is Python (a quoted string, or code computing one): the preview reads a plain
// quoted duration only, anything else is for the deploy checks.
export function unquote(text) {
  var t = (text || "").trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return null;
}
