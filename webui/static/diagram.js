// Read-only BPMN diagrams (bpmn-js NavigatedViewer): fetch the version's XML, fit it, add state markers.
// Each container: data-bpmn-viewer, data-xml-url, data-markers = {"cf-done": [bpmn ids], ...}, and the page's
// language's sentences for failures in data-text-missing and data-text-failed (English when absent).
(function () {
  "use strict";

  function show(container, state, text) {
    container.dataset.state = state;
    var status = container.querySelector(".diagram-status");
    status.textContent = text;
    status.hidden = !text;
  }

  function mark(viewer, markers) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    Object.keys(markers).forEach(function (cls) {
      markers[cls].forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, cls);
      });
    });
  }

  function setup(container) {
    if (typeof window.BpmnJS !== "function") {
      show(container, "error", container.dataset.textMissing || "The diagram viewer is not installed (run `make setup`).");
      return;
    }
    var viewer = new window.BpmnJS({ container: container.querySelector(".diagram-canvas") });
    var markers = JSON.parse(container.dataset.markers || "{}");
    fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("the server answered " + response.status);
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get("canvas").zoom("fit-viewport", "auto");
        mark(viewer, markers);
        show(container, "ready", "");
      })
      .catch(function (error) {
        show(container, "error", (container.dataset.textFailed || "The diagram could not be shown:") + " " + error.message);
      });
  }

  document.querySelectorAll("[data-bpmn-viewer]").forEach(setup);
})();
