// Swagger UI for the gateway's own OpenAPI document; a file, not an inline script, so a strict CSP works.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
