"""The bounded contexts, one subpackage each.  A domain never imports another."""
