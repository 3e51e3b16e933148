"""The one message shown when the C codec cannot be built or imported.

It lives in its own import-free module so that both the cffi builder (which runs before
twinbeat is installed and loads this file by path) and the facade quote the same words.
"""

BUILD_ADVICE = (
    "twinbeat: building the wire codec needs a C compiler and OpenSSL headers "
    "(Debian: apt-get install gcc libssl-dev)"
)
