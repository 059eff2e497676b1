// Starts ReDoc on #redoc with the OpenAPI URL from its data attribute (no inline script: CSP).
window.addEventListener("load", function () {
  var root = document.getElementById("redoc");
  Redoc.init(root.dataset.openapiUrl, {}, root);
});
