"""`python -m app.client` (or `bin/brigade`): a command-line client of the Brigade API.

Only `requests` and the standard library: the client never imports Flask, torch or any of the
server's modules, so it runs wherever `requests` is installed. `api` speaks HTTP (streamed
multipart upload, job long-polling, problem bodies), `render` draws progress and tables, `cli`
parses the command line and maps failures to exit codes.
"""
