"""The web server: /metrics, the status page at /, /-/healthy, /-/ready and POST /-/reload.

    server = serve(WebApp(render_metrics, ready, reload), [("", 10788)], WebConfig(), 40)
    ...
    server.shutdown()
"""

from exporter.web.addresses import (
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_PORT,
    format_address,
    parse_listen_address,
    parse_listen_addresses,
)
from exporter.web.routes import WebApp
from exporter.web.server import DEFAULT_MAX_REQUESTS, Server, raise_open_files_limit, serve
from exporter.web.webconfig import WebConfig
from exporter.web.webconfig import load as load_web_config

__all__ = ["DEFAULT_LISTEN_ADDRESS", "DEFAULT_MAX_REQUESTS", "DEFAULT_PORT", "Server",
           "WebApp", "WebConfig", "format_address", "load_web_config", "parse_listen_address",
           "parse_listen_addresses", "raise_open_files_limit", "serve"]
