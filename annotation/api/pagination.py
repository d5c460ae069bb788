from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """`?limit=` and `?offset=`; at most 1,000 rows a page."""

    default_limit = 100
    max_limit = 1000
