// The decision table editor's bundle (esbuild, `make setup`): dmn-js's Modeler as window.CreditflowDmn for
// webui/static/dmn_editor.js. A separate file from studio.js, so the diagram editor loads no faster or slower.
import DmnModeler from "dmn-js/lib/Modeler";
import IdUnclaimBehavior from "dmn-js-decision-table/lib/features/modeling/behavior/IdUnclaimBehavior";
import { libraryTranslate } from "./i18n.js";

// dmn-js's own labels in the page's language (studio/library_labels.js), in every view it opens.
var TranslateModule = { translate: ["value", libraryTranslate("dmn-js")] };

// dmn-js's IdUnclaimBehavior walks a removed rule's or column's elements by their descriptors' properties. A
// generic element has none: the spiffworkflow:properties in extensionElements that give a table's words in
// Chinese (name_zh, label_zh, description_zh; README "Languages"), so removing such a rule or column threw
// "Cannot read properties of undefined (reading 'forEach')" and was not done. A generic element holds no id
// dmn-js claimed: skipped, everything else unclaimed as dmn-js does.
class GenericSafeIdUnclaimBehavior extends IdUnclaimBehavior {
  unclaimId(businessObject) {
    if (businessObject && businessObject.$descriptor && businessObject.$descriptor.properties) {
      super.unclaimId(businessObject);
    }
  }
}
GenericSafeIdUnclaimBehavior.$inject = IdUnclaimBehavior.$inject;
var SafeUnclaimModule = { idUnclaimBehavior: ["type", GenericSafeIdUnclaimBehavior] };

// Per view: dmn-js's Manager gives a view its own additionalModules only (those under `common` are replaced).
var VIEWS = ["drd", "decisionTable", "literalExpression", "boxedExpression"];

function Modeler(options) {
  var withTranslate = Object.assign({}, options);
  VIEWS.forEach(function (view) {
    var own = Object.assign({}, options[view]);
    var ours = view === "decisionTable" ? [TranslateModule, SafeUnclaimModule] : [TranslateModule];
    own.additionalModules = (own.additionalModules || []).concat(ours);
    withTranslate[view] = own;
  });
  return new DmnModeler(withTranslate);
}

window.CreditflowDmn = { Modeler: Modeler };
