"""The four stream stages of newsflow; each meets the others only on Kafka topics."""
