"""Thin ``run_<verb>(args)`` functions behind the CLI: parse config, call one library function,
write the output. Each module is imported only when its command runs."""
