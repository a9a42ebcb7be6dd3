"""``python -m chapter5.draw``: a page to draw a digit on and watch a trained network read it (see __main__).

The same page is TensorBoard's ``draw`` tab (:mod:`chapter5.draw.plugin`): one WSGI application
(:mod:`chapter5.draw.app`) and one set of static files serve both.
"""

#: Host names that are this machine: the only ones a request may address unless the server was opened to the
#: network (DNS rebinding), for the page's own server and the tab alike.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
