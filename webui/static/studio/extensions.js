// creditflow's spiffworkflow:* extension elements, read and written as bpmn-moddle's generic elements.
//
// No moddle descriptor is declared for the spiffworkflow namespace on purpose: with one, an element the
// descriptor does not know would be dropped on import, so an edit could lose what another tool (or a newer
// creditflow) wrote. Generic elements keep every attribute, child and body and are written back as read.

export const SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core";

export function localName(node) {
  var type = (node && node.$type) || "";
  var colon = type.indexOf(":");
  return colon === -1 ? type : type.slice(colon + 1);
}

function isSpiff(node, name) {
  if (!node || localName(node) !== name) return false;
  var ns = node.$descriptor && node.$descriptor.ns;
  // A generic element knows its namespace URI; a prefix alone is enough when the document declared it.
  return !ns || !ns.uri || ns.uri === SPIFF_NS;
}

export function extensionValues(bo) {
  return (bo && bo.extensionElements && bo.extensionElements.values) || [];
}

export function findExtension(bo, name) {
  return extensionValues(bo).find(function (v) { return isSpiff(v, name); });
}

export function children(node, name) {
  return ((node && node.$children) || []).filter(function (c) { return !name || isSpiff(c, name); });
}

export function getProperty(bo, name) {
  var props = findExtension(bo, "properties");
  var found = children(props, "property").find(function (p) { return p.name === name; });
  return found ? found.value || "" : "";
}

export function calledDecision(bo) {
  var node = findExtension(bo, "calledDecisionId");
  return node ? (node.$body || "").trim() : "";
}

export function operator(bo) {
  return findExtension(bo, "serviceTaskOperator");
}

export function parameters(bo) {
  var op = operator(bo);
  var list = children(op, "parameters")[0];
  return children(list, "parameter");
}

// --- changes, each undoable: `apply` changes the business object and returns the function that undoes it.

export function createGeneric(moddle, name, attrs) {
  var node = moddle.createAny("spiffworkflow:" + name, SPIFF_NS, attrs || {});
  node.$children = [];
  return node;
}

function ensureExtensionElements(bo, moddle, undo) {
  if (!bo.extensionElements) {
    var ext = moddle.create("bpmn:ExtensionElements", { values: [] });
    ext.$parent = bo;
    bo.extensionElements = ext;
    undo.push(function () { delete bo.extensionElements; });
  }
  return bo.extensionElements;
}

function ensureExtension(bo, moddle, name, undo) {
  var found = findExtension(bo, name);
  if (found) return found;
  var ext = ensureExtensionElements(bo, moddle, undo);
  var node = createGeneric(moddle, name);
  node.$parent = ext;
  ext.values.push(node);
  undo.push(function () { ext.values.splice(ext.values.indexOf(node), 1); });
  return node;
}

function ensureChild(parent, moddle, name, undo) {
  var found = children(parent, name)[0];
  if (found) return found;
  var node = createGeneric(moddle, name);
  parent.$children = parent.$children || [];
  parent.$children.push(node);
  undo.push(function () { parent.$children.splice(parent.$children.indexOf(node), 1); });
  return node;
}

function setAttr(node, key, value, undo) {
  var had = Object.prototype.hasOwnProperty.call(node, key);
  var old = node[key];
  node[key] = value;
  undo.push(function () { if (had) node[key] = old; else delete node[key]; });
}

function done(undo) {
  return function () { undo.slice().reverse().forEach(function (f) { f(); }); };
}

// A spiffworkflow:property, created (in order, after the others) or removed when the value is empty.
export function setPropertyChange(bo, moddle, name, value) {
  return function () {
    var undo = [];
    var props = findExtension(bo, "properties");
    var found = children(props, "property").find(function (p) { return p.name === name; });
    if (!value) {
      if (found) {
        var at = props.$children.indexOf(found);
        props.$children.splice(at, 1);
        undo.push(function () { props.$children.splice(at, 0, found); });
      }
      return done(undo);
    }
    if (found) {
      setAttr(found, "value", value, undo);
      return done(undo);
    }
    props = ensureExtension(bo, moddle, "properties", undo);
    var node = createGeneric(moddle, "property", { name: name, value: value });
    props.$children = props.$children || [];
    props.$children.push(node);
    undo.push(function () { props.$children.splice(props.$children.indexOf(node), 1); });
    return done(undo);
  };
}

export function setBodyChange(bo, moddle, name, value) {
  return function () {
    var undo = [];
    var node = ensureExtension(bo, moddle, name, undo);
    setAttr(node, "$body", value, undo);
    return done(undo);
  };
}

// The operation a service task calls; parameters the new operation does not take are dropped (the engine
// refuses unknown parameters), the others keep their expressions.
export function setOperatorChange(bo, moddle, name, requestFields) {
  return function () {
    var undo = [];
    var op = ensureExtension(bo, moddle, "serviceTaskOperator", undo);
    setAttr(op, "id", name, undo);
    var list = children(op, "parameters")[0];
    if (list) {
      var keep = (requestFields || []).map(function (f) { return f.name; });
      var before = list.$children.slice();
      list.$children = before.filter(function (p) { return localName(p) !== "parameter" || keep.indexOf(p.id) !== -1; });
      undo.push(function () { list.$children = before; });
    }
    return done(undo);
  };
}

export function setParameterChange(bo, moddle, name, value) {
  return function () {
    var undo = [];
    var op = ensureExtension(bo, moddle, "serviceTaskOperator", undo);
    var list = ensureChild(op, moddle, "parameters", undo);
    var found = children(list, "parameter").find(function (p) { return p.id === name; });
    if (!value) {
      if (found) {
        var at = list.$children.indexOf(found);
        list.$children.splice(at, 1);
        undo.push(function () { list.$children.splice(at, 0, found); });
      }
      return done(undo);
    }
    if (found) {
      setAttr(found, "value", value, undo);
      return done(undo);
    }
    var node = createGeneric(moddle, "parameter", { id: name, type: "any", value: value });
    list.$children.push(node);
    undo.push(function () { list.$children.splice(list.$children.indexOf(node), 1); });
    return done(undo);
  };
}

export function setAttributeChange(node, key, value) {
  return function () {
    var undo = [];
    setAttr(node, key, value, undo);
    return done(undo);
  };
}
