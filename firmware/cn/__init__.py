"""citynode firmware package: frame encoder (frame), crypto (hmac256, aesctr), registry."""
