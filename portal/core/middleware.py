from django.conf import settings


class ChineseFirstMiddleware:
    """Pages open in Chinese unless the visitor picks English with the language switch (a cookie).

    Browsers' Accept-Language is ignored for pages, so a phone set to English still gets the Chinese
    page first; API clients (mini-programs, apps) keep choosing with Accept-Language.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/api/") and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
