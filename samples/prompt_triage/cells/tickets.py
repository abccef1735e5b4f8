import pandas as pd

tickets = pd.DataFrame(
    {
        "id": [101, 102, 103, 104, 105, 106],
        "channel": ["email", "chat", "email", "phone", "chat", "email"],
        "text": [
            "I was charged twice for order #5531, please refund one of the payments.",
            "The app crashes every time I open the order history on Android 14.",
            "My parcel has said 'in transit' for 12 days. Where is it?",
            "I can't log in: the password reset email never arrives.",
            "Do you ship to Iceland? And how long does it take?",
            "Checkout shows a 500 error when I apply a gift card. I need this today!",
        ],
    }
)
print(f"{len(tickets)} tickets")
