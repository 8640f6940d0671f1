"""What both engines share about patients: arrivals and attributes from named streams
(`demand`), the per-patient record and the sink it streams into (`record`), and the invariants
every run must satisfy (`invariants`)."""
