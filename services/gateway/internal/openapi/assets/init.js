// Starts Swagger UI on the gateway's own OpenAPI document. It is a file,
// not an inline script, so the page's Content-Security-Policy can allow
// scripts from this origin only. validatorUrl null: Swagger UI would
// otherwise send the document to validator.swagger.io for a badge.
window.addEventListener("load", function () {
  if (!window.SwaggerUIBundle) {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
