"""Activities: everything a case does to the outside world (policies on disk, e-mail, tasks, database)."""
