"""The supervisor: prompts for the agent, review of each attempt, and the LLMs behind it."""
