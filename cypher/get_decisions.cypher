// Store.get_decisions without id filters: by kind and activity.
MATCH (d:Decision)
WHERE ($kinds IS NULL OR d.kind IN $kinds) AND (NOT $active_only OR NOT d.undone)
RETURN d {.*} AS decision
