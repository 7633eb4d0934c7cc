// The decision table editor's bundle (esbuild, `make setup`): dmn-js's Modeler as window.CreditflowDmn for
// webui/static/dmn_editor.js. A separate file from studio.js, so the diagram editor loads no faster or slower.
import DmnModeler from "dmn-js/lib/Modeler";
import { libraryTranslate } from "./i18n.js";

// dmn-js's own labels in the page's language (studio/library_labels.js), in every view it opens.
var TranslateModule = { translate: ["value", libraryTranslate("dmn-js")] };

// Per view: dmn-js's Manager gives a view its own additionalModules only (those under `common` are replaced).
var VIEWS = ["drd", "decisionTable", "literalExpression", "boxedExpression"];

function Modeler(options) {
  var withTranslate = Object.assign({}, options);
  VIEWS.forEach(function (view) {
    var own = Object.assign({}, options[view]);
    own.additionalModules = (own.additionalModules || []).concat([TranslateModule]);
    withTranslate[view] = own;
  });
  return new DmnModeler(withTranslate);
}

window.CreditflowDmn = { Modeler: Modeler };
