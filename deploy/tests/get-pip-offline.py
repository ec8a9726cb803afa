"""Stand-in for the get-pip.py that `ansible-test sanity --venv` downloads from a host outside the
package registries (docs/deploy.md, "Testing the collection"): ansible-test runs it with the
venv's interpreter and `pip install`-style arguments. It bootstraps the pip bundled with Python
(ensurepip), then installs the requested packages (the pinned pip) from the package index."""

import ensurepip
import subprocess
import sys

# get-pip.py's own flags, which pip install does not take.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + args))
