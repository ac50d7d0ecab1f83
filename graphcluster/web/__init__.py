"""The web review page (``graphcluster serve``; the extra ``graphcluster[web]``).

:func:`create_app` builds the Starlette application over an open GraphCluster; docs/web.md
describes the pages, the keyboard shortcuts and the security decisions.
"""

from graphcluster.web.app import create_app

__all__ = ["create_app"]
