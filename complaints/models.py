# Complaints arrive with their own issue (intake, routing to the platform, answers on time).
