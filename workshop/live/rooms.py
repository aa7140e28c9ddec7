"""Room names: who receives what."""


def everyone(workshop_id: int) -> str:
    return f"w:{workshop_id}"


def role(workshop_id: int, role_name: str) -> str:
    return f"w:{workshop_id}:{role_name}"


def participant(participant_id: int) -> str:
    return f"p:{participant_id}"


def user(user_id: int) -> str:
    return f"u:{user_id}"
