"""Swagger UI's page (``/api/docs``), written here instead of taken from flask-smorest.

flask-smorest's page starts Swagger UI from an inline script without a nonce, which the
Content-Security-Policy (``app.api.security_headers``) blocks: the page would stay blank.
This one is the same page, its script carrying the response's nonce. It is served at
flask-smorest's own route and endpoint, so the URL, the access category and the assets
(``/api/docs/assets/``, from the ``swagger-ui-bundle`` package) stay as they were.
"""

from flask import Flask, render_template_string, url_for

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
  <link rel="stylesheet" type="text/css" href="{{ assets }}swagger-ui.css">
  <style nonce="{{ csp_nonce() }}">
    #event-catalog-link { max-width: 1460px; margin: 0 auto; padding: 12px 20px 0;
                          font: 14px sans-serif; }
  </style>
</head>
<body>
  <p id="event-catalog-link">Events these endpoints cause, and the webhooks and tasks that carry
    them: <a href="{{ catalog_url }}">the event catalog</a> (AsyncAPI 3.0.0).</p>
  <div id="swagger-ui-container"></div>
  <script src="{{ assets }}swagger-ui-standalone-preset.js"></script>
  <script src="{{ assets }}swagger-ui-bundle.js"></script>
  <script nonce="{{ csp_nonce() }}">
    window.addEventListener("load", function () {
      window.ui = SwaggerUIBundle({
        url: {{ spec_url | tojson }},
        dom_id: "#swagger-ui-container",
      });
    });
  </script>
</body>
</html>
"""


def install(app: Flask, docs_blueprint: str, title: str, assets_url: str) -> None:
    """Serve ``PAGE`` in place of flask-smorest's page (registered by ``Api(app)`` before)."""
    endpoint = f"{docs_blueprint}.openapi_swagger_ui"
    if endpoint not in app.view_functions:
        raise RuntimeError(f"flask-smorest registered no {endpoint}: check OPENAPI_SWAGGER_UI_*")
    spec_endpoint = f"{docs_blueprint}.openapi_json"

    def swagger_ui() -> str:
        spec_url = url_for(spec_endpoint)
        catalog_url = url_for("event_catalog.asyncapi_page")
        return render_template_string(
            PAGE, title=title, assets=assets_url, spec_url=spec_url, catalog_url=catalog_url
        )

    app.view_functions[endpoint] = swagger_ui
