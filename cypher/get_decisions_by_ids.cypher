// Store.get_decisions with face/cluster ids: decisions whose a or b is in $keys (index seeks on both).
UNWIND $keys AS key
MATCH (d:Decision {a: key})
WHERE ($kinds IS NULL OR d.kind IN $kinds) AND (NOT $active_only OR NOT d.undone)
RETURN d {.*} AS decision
UNION
UNWIND $keys AS key
MATCH (d:Decision {b: key})
WHERE ($kinds IS NULL OR d.kind IN $kinds) AND (NOT $active_only OR NOT d.undone)
RETURN d {.*} AS decision
