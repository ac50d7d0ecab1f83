// Store.get_decision
MATCH (d:Decision {id: $id})
RETURN d {.*} AS decision
