// /api/docs: Swagger UI (vendored from npm by `make`) on the document this server generates.
// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io for a badge.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
