// Store.add_decision (same_person): the MUST_LINK from a to b; returns nothing when a face is missing.
MATCH (a:Face {id: $a})
MATCH (b:Face {id: $b})
CREATE (a)-[:MUST_LINK {id: $id, by: $by, at: $at, reason: $reason}]->(b)
RETURN $id AS id
