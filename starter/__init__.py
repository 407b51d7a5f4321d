"""Starting and driving cases from outside: client connection, invoice import, ops actions."""
