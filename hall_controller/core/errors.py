"""The one error type the domain raises: a machine code, a Chinese message, and the HTTP status it maps to."""


class HallError(Exception):
    def __init__(self, code: str, message: str, status: int = 409, field: str | None = None):
        """`field`: the input the error is about (a config key's dotted path), named in the response."""
        self.code, self.message, self.status, self.field = code, message, status, field
        super().__init__(f"{code}: {message}")


def not_found(what: str, ident: str) -> HallError:
    return HallError(f"unknown_{what}", f"未找到{_NAMES.get(what, what)}：{ident}", 404)


_NAMES = {
    "service": "事项",
    "ticket": "号票",
    "window": "窗口",
    "staff": "工作人员",
    "category": "分类",
}
