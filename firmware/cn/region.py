"""Radio regions: default channel, payload limits per spreading factor, duty cycle, dwell.

EU868 (ETSI EN 300 220, band 868.0-868.6 MHz): 1 % duty cycle = 36 s of airtime per rolling
hour; payload at most 51 B at SF10-12, 115 B at SF9, 222 B at SF7-8 (LoRaWAN RP002).
US915 (FCC 15.247): no duty cycle but at most 400 ms dwell per transmission; at 125 kHz
SF10 (DR0) carries 11 B, SF9 53 B, SF8 125 B, SF7 242 B. No citynode frame (12 B minimum)
fits DR0, so config validation refuses SF10+ in US915 rather than send nothing.
"""

REGIONS = {
    "EU868": {
        "freq_khz": 868100,
        "freq_min": 863000,
        "freq_max": 870000,
        "sf": 9,
        "sf_min": 7,
        "sf_max": 12,
        "power_dbm": 14,
        "power_max": 14,
        "duty_ms_per_hour": 36000,
        "dwell_ms": 0,
        "max_payload": {7: 222, 8: 222, 9: 115, 10: 51, 11: 51, 12: 51},
    },
    "US915": {
        "freq_khz": 903900,
        "freq_min": 902000,
        "freq_max": 928000,
        "sf": 8,
        "sf_min": 7,
        "sf_max": 10,
        "power_dbm": 20,
        "power_max": 30,
        "duty_ms_per_hour": 0,
        "dwell_ms": 400,
        "max_payload": {7: 242, 8: 125, 9: 53, 10: 11},
    },
}

DEFAULT = "EU868"
