"""The `hygiene` command: a thin layer over the library, and the outermost layer of the project.

It sits above flows/ (for `hygiene run`) and sandbox/ (for `hygiene sandbox`), so it lives outside hygiene/,
which imports nothing of ours.
"""
