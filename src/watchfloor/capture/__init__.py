"""Packets in: capture files, link/IP/transport layers, flows and TCP reassembly."""
