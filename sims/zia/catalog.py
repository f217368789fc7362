"""Predefined URL categories (a realistic subset) and a small URL database for urlLookup.

Ids and super-categories are ZIA's; ``val`` numbers other than OTHER_ADULT_MATERIAL=1 (recorded)
are UNVERIFIED. Categories under SECURITY come back in ``urlClassificationsWithSecurityAlert``.
"""

from __future__ import annotations

PREDEFINED: list[tuple[str, str]] = [
    ("OTHER_ADULT_MATERIAL", "ADULT_MATERIAL"),
    ("ADULT_THEMES", "ADULT_MATERIAL"),
    ("CORPORATE_MARKETING", "BUSINESS_AND_ECONOMY"),
    ("FINANCE", "BUSINESS_AND_ECONOMY"),
    ("PROFESSIONAL_SERVICES", "BUSINESS_AND_ECONOMY"),
    ("OTHER_EDUCATION", "EDUCATION"),
    ("STREAMING_MEDIA", "ENTERTAINMENT_AND_RECREATION"),
    ("MUSIC", "ENTERTAINMENT_AND_RECREATION"),
    ("GAMBLING", "GAMBLING"),
    ("GOVERNMENT", "GOVERNMENT_AND_POLITICS"),
    ("HEALTH", "HEALTH"),
    ("COMPUTER_HACKING", "INFORMATION_TECHNOLOGY"),
    ("WEB_SEARCH", "INFORMATION_TECHNOLOGY"),
    ("WEB_HOST", "INFORMATION_TECHNOLOGY"),
    ("OTHER_INFORMATION_TECHNOLOGY", "INFORMATION_TECHNOLOGY"),
    ("WEBMAIL", "INTERNET_COMMUNICATION"),
    ("SOCIAL_NETWORKING", "INTERNET_COMMUNICATION"),
    ("JOB_SEARCH", "JOB_SEARCH"),
    ("MISCELLANEOUS_OR_UNKNOWN", "MISCELLANEOUS"),
    ("NEWLY_REG_DOMAINS", "MISCELLANEOUS"),
    ("NEWS_AND_MEDIA", "NEWS_AND_MEDIA"),
    ("MALWARE_SITE", "SECURITY"),
    ("PHISHING", "SECURITY"),
    ("BOTNET", "SECURITY"),
    ("SPYWARE_OR_ADWARE", "SECURITY"),
    ("CRYPTOMINING", "SECURITY"),
    ("ONLINE_SHOPPING", "SHOPPING_AND_AUCTIONS"),
    ("SPORTS", "SPORTS"),
    ("TRAVEL", "TRAVEL"),
    ("WEAPONS_AND_BOMBS", "WEAPONS_AND_BOMBS"),
]
SUPER_CATEGORIES = sorted({s for _, s in PREDEFINED} | {"USER_DEFINED"})
SECURITY_ALERT = {cid for cid, sup in PREDEFINED if sup == "SECURITY"}
UNKNOWN = "MISCELLANEOUS_OR_UNKNOWN"

# domain (matches itself and its subdomains) -> classifications
URL_DATABASE: dict[str, list[str]] = {
    "google.com": ["WEB_SEARCH"],
    "bing.com": ["WEB_SEARCH"],
    "duckduckgo.com": ["WEB_SEARCH"],
    "cnn.com": ["NEWS_AND_MEDIA"],
    "bbc.co.uk": ["NEWS_AND_MEDIA"],
    "nytimes.com": ["NEWS_AND_MEDIA"],
    "amazon.com": ["ONLINE_SHOPPING"],
    "ebay.com": ["ONLINE_SHOPPING"],
    "facebook.com": ["SOCIAL_NETWORKING"],
    "linkedin.com": ["SOCIAL_NETWORKING"],
    "x.com": ["SOCIAL_NETWORKING"],
    "gmail.com": ["WEBMAIL"],
    "outlook.com": ["WEBMAIL"],
    "mail.yahoo.com": ["WEBMAIL"],
    "youtube.com": ["STREAMING_MEDIA"],
    "netflix.com": ["STREAMING_MEDIA"],
    "spotify.com": ["MUSIC"],
    "github.com": ["OTHER_INFORMATION_TECHNOLOGY"],
    "zscaler.com": ["CORPORATE_MARKETING"],
    "mimecast.com": ["CORPORATE_MARKETING"],
    "chase.com": ["FINANCE"],
    "expedia.com": ["TRAVEL"],
    "espn.com": ["SPORTS"],
    "irs.gov": ["GOVERNMENT"],
    "webmd.com": ["HEALTH"],
    "indeed.com": ["JOB_SEARCH"],
    "pokerstars.com": ["GAMBLING"],
    "coinhive.com": ["CRYPTOMINING"],
    "testsafebrowsing.appspot.com": ["MALWARE_SITE"],
    "secure-login-paypa1.com": ["PHISHING"],
    "malware-traffic-analysis.net": ["COMPUTER_HACKING"],
}


def classify(host: str) -> list[str]:
    """Predefined classifications of a host (longest matching domain wins)."""
    labels = host.split(".")
    for i in range(len(labels) - 1):
        hit = URL_DATABASE.get(".".join(labels[i:]))
        if hit:
            return list(hit)
    return [UNKNOWN]
