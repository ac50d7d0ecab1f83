// Store.add_decision (different_person): the CANNOT_LINK from a to b; returns nothing when a face is missing.
MATCH (a:Face {id: $a})
MATCH (b:Face {id: $b})
CREATE (a)-[:CANNOT_LINK {id: $id, by: $by, at: $at, reason: $reason}]->(b)
RETURN $id AS id
