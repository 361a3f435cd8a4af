"""The carrier as a front door (issue 16): a carrier acting for its own subscriber, from its app or its
counter, starts a lookup (一号通查, counts only), renews a number (主动焕新: every app with the unbinding
capability removes the bindings made before the holder got the number) or reads a number's recycling
history for a buyer. Lookups and renewals reuse the lookup fan-out and the unbind requests; this
package adds who attested the subscriber, the guard rails and the carrier's views of them."""
