"""Support for the tests and the benchmarks, shipped with neither and imported by both.

- ``servers``: every server (nginx, Apache httpd, Caddy, HAProxy, lighttpd) started
  one way, as a child process on loopback with its configuration and logs in a
  temporary prefix, and stopped whatever happens;
- ``certificates``: a test CA (trustme) and the certificate files servers read;
- ``nginx``: nginx ``server {}`` blocks for many names, addresses and certificates;
- ``recipes``: the serving recipes of docs/deploy.md, filled in and started;
- ``browser``: Debian's Chromium through Playwright;
- ``cdn_server``: an in-process HTTP/1.1 stand-in for an origin and its shard hosts.
"""
