Console.WriteLine(Greetings.Hello);
Console.WriteLine(Greetings.Evening);
