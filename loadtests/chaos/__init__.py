"""`make chaos`: seeded faults on the HA cluster under concurrent clients, then a checker."""
