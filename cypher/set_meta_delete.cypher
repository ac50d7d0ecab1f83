// Store.set_meta: delete the keys set to None.
UNWIND $keys AS key
MATCH (m:Meta {key: key})
DELETE m
