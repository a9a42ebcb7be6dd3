r"""Serves a page on which to draw a digit and watch a trained run's network read it, layer by layer.

    python -m chapter5.draw --logdir=logs            # then open http://127.0.0.1:6007/

As ``tensorboard --logdir logs`` does, it serves every run under ``--logdir``:
the page has a run selector and a slider over the checkpoints each run kept,
and a run that is training shows its new checkpoints as they are written. A
picture file dropped on the page (a phone photo, a scan, MNIST's own digits)
is read exactly as ``chapter5.predict`` reads it. The page's JSON API, for
``curl``:

    curl -s localhost:6007/api/runs
    curl -s --data-binary @my_digit.jpg "localhost:6007/api/read?run=quickstart"          # the newest checkpoint
    curl -s --data-binary @my_digit.jpg "localhost:6007/api/read?run=quickstart&checkpoint=350"

It listens on 127.0.0.1 only, and answers only requests addressed to this
machine, unless ``--host`` opens it to the network. Ctrl-C stops it.
"""

from __future__ import annotations

import errno
import logging
import socket

from absl import flags
from werkzeug.serving import get_sockaddr, select_address_family

from chapter5 import _cli, flag_defs
from chapter5.draw import LOCAL_HOSTS
from chapter5.draw.app import App, server

#: Next to TensorBoard's 6006.
DEFAULT_PORT = 6007


def define_flags(fv: flags.FlagValues) -> None:
    flag_defs.define_cli_flags(fv)
    flag_defs.define_logdir(fv)
    d = dict(flag_values=fv)
    flags.DEFINE_integer("port", DEFAULT_PORT, "Port to serve the page on (TensorBoard's is 6006).", lower_bound=0,
                         upper_bound=65535, **d)
    flags.DEFINE_string("host", "127.0.0.1", "Address to listen on. The default serves this machine only; "
                        "another (0.0.0.0 for every interface) opens the page to the network.", **d)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (werkzeug's server is given it: its own binding would print its
    lines and exit on a port in use).

    Raises:
        UsageError: the port is in use or cannot be opened; the message names ``--port``.
    """
    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server: a port in TIME_WAIT
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(128)
    except OSError as e:
        sock.close()
        reason = "is in use (another program, or chapter5.draw already running)" if e.errno == errno.EADDRINUSE \
            else f"cannot be opened ({e.strerror or e})"
        raise _cli.UsageError(f"--port={port} on {host} {reason}: choose another --port") from None
    return sock


def main(argv: list, fv: flags.FlagValues) -> int:
    _cli.no_arguments(argv)
    local = fv.host in LOCAL_HOSTS
    app = App(fv.logdir, allowed_hosts=LOCAL_HOSTS if local else None)
    if not fv.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    with listening_socket(fv.host, fv.port) as sock:
        httpd = server(app, fv.host, fv.port, fd=sock.fileno())  # (it takes a copy)
    port = httpd.socket.getsockname()[1]
    host = f"[{fv.host}]" if ":" in fv.host else fv.host
    print(f"Serving the runs in {fv.logdir} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    if not local:
        print(f"The page is open to the network: anyone who can reach {fv.host}:{port} can use it.", flush=True)
    try:
        httpd.serve_forever()  # werkzeug's returns on Ctrl-C (it catches KeyboardInterrupt)
    finally:
        httpd.server_close()
        app.models.close()
    raise KeyboardInterrupt  # nothing else stops it: end as every program ends on Ctrl-C (one line, 130)


if __name__ == "__main__":
    _cli.run(define_flags, main)
