"""Server-rendered overview until the single-page dashboard lands: hosts and where to go next."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hosts.access import can_manage_inventory, caller, visible_hosts


@login_required
def index(request: HttpRequest) -> HttpResponse:
    who = caller(request.user)
    context = {"hosts": visible_hosts(who), "can_manage": can_manage_inventory(who)}
    return render(request, "frontend/index.html", context)
